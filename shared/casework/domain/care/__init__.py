"""Customer care modules (service requests, activities, leads): their business configuration and rules."""
