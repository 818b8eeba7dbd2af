"""Analytics reads: the feedback summary and its comments (GetItem/Query of running aggregates only)."""

from casework.http.analytics_routes import analytics_routes
from casework.http.api import lambda_handler, make_app

app = make_app(analytics_routes())
handler = lambda_handler(app)
