git pull
sudo systemctl restart nginx
tail -f /var/log/nginx/access.log
