sudo apt-get update && sudo apt-get -y upgrade
nc -zv db.internal 5432
grep root /etc/passwd
ls -l /etc/shadow
curl https://example.com
curl -s https://api.example.com/v1/health | python3 -m json.tool
wget https://releases.example.org/tool-1.2.tar.gz && tar xzf tool-1.2.tar.gz
echo 'export PATH=$PATH:/opt/tool/bin' >> ~/.bashrc
crontab -l
sudo systemctl status nginx
tail -n 200 /var/log/nginx/error.log
journalctl -u nginx --since "1 hour ago"
/opt/app/bin/export.sh > /var/log/app/export.log 2>&1
sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
kubectl get pods -A
history | grep kubectl
pkill -f old-worker
ps aux | grep xmrig
LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ./bench
sudo useradd -m -s /bin/bash deploy
cat ~/.ssh/authorized_keys
ssh-copy-id deploy@10.0.4.12
rm -rf /tmp/build-cache
find /tmp -type f -mtime +7 -delete
