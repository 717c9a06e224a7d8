"""What the SIP proxy needs: the shipped Kamailio configuration and the tools to run it."""
