"""The dashboard's routes, an APIRouter per area (web/__init__.py includes them)."""
