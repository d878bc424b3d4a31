"""Command-line entry points: one module per subcommand, each with build_parser()/run()."""
