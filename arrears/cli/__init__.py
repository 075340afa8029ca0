"""The `arrears` command line (Typer): a face like the HTTP ones, above the domains.

`main` assembles the command groups (one module each) and is the installed script's entry point;
`common` holds what every command shares. Create commands print one JSON object last with --json.
Domains never import this package."""
