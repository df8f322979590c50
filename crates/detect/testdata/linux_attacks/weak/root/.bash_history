ls -la /etc/ssh
cat /etc/shadow
passwd -S ubuntu
vim /etc/ssh/sshd_config
systemctl restart ssh
rm -f /var/log/auth.log
history -c
