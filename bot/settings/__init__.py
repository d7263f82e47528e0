"""bot.settings"""
