from occlude.cli import main

main()
