from shipper.cli import console

raise SystemExit(console())
