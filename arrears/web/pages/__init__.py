"""One module per page group; each exposes `router`. A group whose domain service has not landed
fails to import and is skipped by `arrears.web.app.build_router`."""
