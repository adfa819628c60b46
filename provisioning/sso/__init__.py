"""SAML 2.0 single sign-on for each integration: configuration, the sign-in flows, the SSO log."""
