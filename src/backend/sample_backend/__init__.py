"""Sample backend Lambda for the JWT authorizer demo (REST and HTTP API)."""
