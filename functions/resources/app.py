"""Resources (Admin), availability search and bookings of resources for activity services."""

from casework.http.api import lambda_handler, make_app
from casework.http.booking_routes import booking_routes

app = make_app(booking_routes())
handler = lambda_handler(app)
