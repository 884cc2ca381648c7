"""shipper: ship the journal and syslog files to Elasticsearch, with root causes attached."""

__version__ = "0.1.0"
