"""The abuse desk: server-rendered pages for agents, legal staff, rightsholders and customers."""
