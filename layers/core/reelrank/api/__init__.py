"""The ranking API (RankingApiFunction): one Powertools resolver, a ``Router`` per resource (STYLE habit 9)."""
