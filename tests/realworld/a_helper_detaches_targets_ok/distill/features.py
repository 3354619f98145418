import torch.nn.functional as F


def teacher_targets(teacher, x):
    """A copy of the teacher's embedding, cut from the graph (the teacher is not trained)."""
    return F.normalize(teacher(x), dim=-1).detach().clone()


def student_features(student, x):
    return F.normalize(student(x), dim=-1).clone()
