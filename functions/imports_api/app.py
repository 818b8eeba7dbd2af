"""Import jobs over the API: POST /imports starts one, GET /imports/{id} shows how it is going."""

from casework.http.api import lambda_handler, make_app
from casework.http.import_routes import import_routes

app = make_app(import_routes())
handler = lambda_handler(app)
