from authority.cli import main

main()
