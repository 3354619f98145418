# realworld: https://github.com/ClownW/Reinforcement-learning-with-PyTorch/issues/3
# family: A
"""A DQN agent records each update's cost for a learning-curve plot. The cost is converted with
`.numpy()` right after `backward()`: it still requires grad, so the first update raises instead of
logging (the thread's answer: detach it after back-propagation)."""
import numpy as np
import torch
import torch.nn as nn


class QNet(nn.Module):
    def __init__(self, n_states, n_actions):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_states, 16), nn.ReLU(), nn.Linear(16, n_actions))

    def forward(self, state):
        return self.body(state)


class Agent:
    def __init__(self, n_states, n_actions):
        self.eval_net = QNet(n_states, n_actions)
        self.target_net = QNet(n_states, n_actions)
        self.optimizer = torch.optim.RMSprop(self.eval_net.parameters(), lr=0.01)
        self.cost_history = []

    def learn(self, states, actions, rewards, next_states, gamma=0.9):
        q_taken = self.eval_net(states).gather(1, actions.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            q_next = self.target_net(next_states).max(1)[0]
        cost = nn.functional.mse_loss(q_taken, rewards + gamma * q_next)
        self.optimizer.zero_grad()
        cost.backward()
        self.optimizer.step()
        self.cost_history.append(cost.numpy())  # finding: NG104  # raises: Can't call numpy() on Tensor that requires grad


if __name__ == "__main__":
    agent = Agent(4, 2)
    batch = 8
    agent.learn(torch.randn(batch, 4), torch.randint(0, 2, (batch,)), torch.randn(batch), torch.randn(batch, 4))
    print(np.mean(agent.cost_history))
