from observatory.bench.runner import main

main()
