"""bot.ledger"""
