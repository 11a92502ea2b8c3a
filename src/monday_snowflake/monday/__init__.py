"""monday.com side: the async GraphQL client, its queries, and column value codecs."""
