"""The JSON API for other departments (`/api/v1`): bearer keys instead of log-ins, JSON in and out, an
OpenAPI document describing every route. The blueprint lives in `routes`."""
