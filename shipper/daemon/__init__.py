"""`shipper run`: the host daemon. Followers read, the loop parses and enriches, a courier thread
delivers, the ledger moves checkpoints over what the output acknowledged."""
