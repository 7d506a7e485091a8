from hubsync.cli import main

main()
