"""SMS out through Amazon SNS (``Publish`` to a phone number): casework.services.ports.SmsSender.

SNS rather than AWS End User Messaging (pinpoint-sms-voice-v2 SendTextMessage): moto 5 implements SNS's
direct-to-phone Publish and keeps what was sent (the local stack's ``GET /_dev/sms`` reads it back), and
SNS needs no origination identity set up for a first deployment. Messages are Transactional (delivered
ahead of promotional traffic, and allowed to numbers that opted out of marketing).
"""

from __future__ import annotations

from typing import Any

from casework.adapters.aws_client import LazyClient


class SnsSmsSender:
    client = LazyClient("sns")

    def __init__(self, client: Any = None, sender_id: str | None = None) -> None:
        self._client = client
        self.sender_id = sender_id

    def send(self, to_e164: str, text: str) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        reply = self.client.publish(PhoneNumber=to_e164, Message=text, MessageAttributes=attributes)
        return str(reply["MessageId"])
