//! Channel adapters: how Otklik reads citizens' messages from social networks and bots, and how it
//! publishes answers back into the same thread.
