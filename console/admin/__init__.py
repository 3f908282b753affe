"""The core's administration pages: operators and teams (`/admin/...`), built on the API."""
