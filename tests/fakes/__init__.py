"""Local fakes of the services Frontdesk talks to (Telegram Bot API, ...), for the tests."""
