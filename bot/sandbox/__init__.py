"""The offline sandbox: a fake Telegram Bot API for the demo, the tests and local runs."""
