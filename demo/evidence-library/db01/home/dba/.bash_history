psql -U postgres -c 'select 1'
df -h
exit
