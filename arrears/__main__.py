from arrears.cli import main

main()
