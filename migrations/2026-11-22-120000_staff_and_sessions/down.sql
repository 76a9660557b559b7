DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE staff_avatars;
DROP TABLE staff;
