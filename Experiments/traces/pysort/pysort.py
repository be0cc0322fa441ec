import random
random.seed(1)
l = [random.random() for _ in range(300000)]
l.sort()
d = {i: str(i) for i in range(100000)}
s = sorted(d.values())
print(len(l), len(s))
