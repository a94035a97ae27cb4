"""Pure rules of AppealDesk: no storage, no Telegram, no I/O."""
