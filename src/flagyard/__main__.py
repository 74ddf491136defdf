from flagyard.cli import main

main()
