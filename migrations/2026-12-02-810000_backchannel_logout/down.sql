DROP TABLE backchannel_logout_attempts;
DROP TABLE backchannel_logouts;
