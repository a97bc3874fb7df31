from cartera.cli import main

main()
