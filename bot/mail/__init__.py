"""bot.mail"""
