"""Customer channels beyond Rasa's built-in REST channel (WeChat Official Account) and the WeChat simulator."""
