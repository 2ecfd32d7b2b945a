from alignrec.cli import main

main()
