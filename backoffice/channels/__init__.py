"""The back-office side of the customer channels: conversation ids, client tokens, delivery, and the client of
the service API that the action server and the WeChat bridge share."""
