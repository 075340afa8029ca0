from arrears.cli.main import main

main()
