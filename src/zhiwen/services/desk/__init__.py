"""The service desk: the human side of a conversation (queue, agents, replies, ratings) joined to the bot."""
