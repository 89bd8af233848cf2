// The web messenger.
