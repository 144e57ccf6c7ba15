from customer_graph.cli import main

main()
