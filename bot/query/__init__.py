"""bot.query"""
