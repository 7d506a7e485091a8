from hubsync.entry import main

main()
