"""casework: customer-care case lifecycles run by a generic workflow engine.

Layers (arrows point down only):
    casework.http, functions/*  -> entry points (thin)
    casework.services           -> use cases, through ports
    casework.adapters           -> DynamoDB, EventBridge, SES, tokens
    casework.domain             -> pure Python: definitions, engine, events, errors
"""
